"""a2: worked, reproducible answers to assignment 2 (optimisation theory and
image colourisation with CNNs). Each module holds one concern; the report's
notebooks in ``report/`` call them."""
