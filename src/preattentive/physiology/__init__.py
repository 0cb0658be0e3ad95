"""Room 5 — in-silico electrophysiology: record units by layer and time step; figure–ground and BO analyses.

Example
-------
>>> from preattentive import physiology
>>> rec = physiology.record_net(net, images, steps=6)  # doctest: +SKIP
>>> physiology.figure_ground_modulation(rec, trials=trials)  # doctest: +SKIP
>>> physiology.border_ownership(rec_bo, trials=bo_trials).summary  # doctest: +SKIP
"""

from preattentive.physiology.border_ownership import (SUMMARY_COLUMNS, UNIT_COLUMNS, BorderOwnershipTables,
                                                      border_ownership, border_ownership_units, control_failures,
                                                      departure_step,
                                                      pair_differences, pairs_from_trials)
from preattentive.physiology.figure_ground import (FG_COLUMNS, figure_ground_modulation, masks_from_trials,
                                                   pairs_from_meta)
from preattentive.physiology.recording import (Recording, as_map, record_clip, record_modules, record_net,
                                              record_vision,
                                              tokens_to_map)
from preattentive.physiology.receptive_fields import (RFMap, ReceptiveFields, contained, example_boxes,
                                                      receptive_fields)
from preattentive.physiology.tables import read_example, read_tables, write_example, write_tables
from preattentive.physiology.units import figure_ground_regions, in_window, rf_centres, rf_pixels, unit_labels

__all__ = ["FG_COLUMNS", "SUMMARY_COLUMNS", "UNIT_COLUMNS", "as_map", "border_ownership", "border_ownership_units",
           "BorderOwnershipTables", "contained", "control_failures", "departure_step", "example_boxes",
           "figure_ground_modulation", "figure_ground_regions", "in_window", "masks_from_trials", "pair_differences",
           "pairs_from_meta", "pairs_from_trials", "read_example", "read_tables", "receptive_fields",
           "ReceptiveFields", "record_clip", "record_modules", "record_net", "record_vision", "Recording",
           "rf_centres", "rf_pixels", "RFMap", "tokens_to_map", "unit_labels", "write_example", "write_tables"]
