"""Themes (palettes, stylesheets, table/plot colours) and bundled icons."""
