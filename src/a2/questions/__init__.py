"""Questions 1-3: the small experiments that check the derivations.

One module per question (``minnorm`` 1.1-1.2, ``hyperopt`` 2.1,
``weightdecay`` 2.2, ``nqm`` 3.1, ``scaling`` 3.2), each returning results
that :mod:`a2.questions.figures` draws and the chapters show.
"""
