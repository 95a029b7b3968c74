"""Built-in callbacks (one per file), registered under the `sentrix.callbacks` entry-point group."""
