"""One module per schema revision; Alembic finds them by file name, not by import."""
