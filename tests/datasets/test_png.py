"""datasets.png: the ISA-L PNG writer gives files every decoder reads back to the same pixels, byte-stable."""

import io

import numpy as np
import pytest
from PIL import Image

from preattentive import stimuli
from preattentive.datasets.png import decode_png, encode_png


@pytest.mark.parametrize("fid", stimuli.latest())
@pytest.mark.parametrize("size", [32, 224])
def test_every_family_roundtrips_through_opencv_and_pillow(fid, size):
    image = stimuli.make(fid, size=size, seed=3).trial(5).image
    data = encode_png(image)
    assert data == encode_png(image.copy())  # same pixels, same bytes
    assert (decode_png(data) == image).all()
    with Image.open(io.BytesIO(data)) as im:  # what Hugging Face's Image feature decodes with
        assert im.mode == "RGB" and (np.asarray(im) == image).all()


def test_odd_shapes_and_non_contiguous_views():
    rng = np.random.default_rng(0)
    for h, w in ((1, 1), (3, 17), (31, 2)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        assert (decode_png(encode_png(img)) == img).all()
    big = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    view = big[::2, 1::2]
    assert encode_png(view) == encode_png(np.ascontiguousarray(view))


def test_bad_input_is_one_line_error():
    with pytest.raises(ValueError, match="expected an RGB uint8 image"):
        encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="not a decodable image"):
        decode_png(b"not a png")
