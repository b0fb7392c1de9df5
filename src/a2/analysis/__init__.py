"""What sections 4 and 5 measure on the networks and their trained runs.

Layer shapes (``shapes``), counts of weights, outputs, connections and
multiply-adds (``counting``), padding arithmetic (``convarith``), colour
statistics of predictions (``colourstats``), epoch timings (``timing``),
hooks into a network (``probe``), the values the prose cites
(``summaries``) and the figures of these sections (``figures``).
"""
