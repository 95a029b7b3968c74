"""The one table of sentence-transformers 6.2 module paths and names, and what serves it."""
