"""The build: papermill runner, embedded renderer (pandoc + Typst) and
notebook assembly, driven by the Makefile (`python -m a2.pipeline`)."""
