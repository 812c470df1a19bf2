"""Model providers, one module per kind; each is a plugin."""
