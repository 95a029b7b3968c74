"""Built-in modules (one per file), registered under the `sentrix.modules` entry-point group."""
