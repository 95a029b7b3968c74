"""Built-in router mappings (one per file), registered under the `sentrix.router_mappings` entry-point group."""
