"""The report's machinery: charts (``plots``), the offline site's assets and check (``site``) and the
headless-browser test of the built book (``browser``)."""
