"""What a user may set, read once at the edge.

- :mod:`a2.config.params`: every parameter of every section and run, with
  its default, meaning and valid values;
- :mod:`a2.config.files`: params files and ``--set`` values read safely;
- :mod:`a2.config.environment`: the environment settings ``A2_DATA`` (the
  CIFAR-10 source) and ``A2_CACHE`` (the checkpoint cache).
"""
