"""The colourisation engine of questions 4 and 5.

CIFAR-10 (``data``) and its colour palette (``palette``), the networks of
handout Fig. 4 (``models``, their paddings in ``padding``), the training
loop (``train``), the checkpoint cache (``cache``), the runs each section
declares (``experiments``) and their training side by side
(``schedule``).
"""
