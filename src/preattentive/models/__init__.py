"""Room: models — vision nets (feedforward, recurrent, question-conditioned) behind one registry.

Light on purpose: importing this package pulls in torch but not transformers; the net presets register on the
first call to :func:`make_net` / :func:`list_nets` / :func:`load_net`.
"""

from .base import NetOutput, count_params, flops_per_image, list_nets, load_net, make_net, save_net

__all__ = ["NetOutput", "count_params", "flops_per_image", "list_nets", "load_net", "make_net", "save_net"]
