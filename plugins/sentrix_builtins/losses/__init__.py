"""Built-in losses (one per file), registered under the `sentrix.losses` entry-point group."""
