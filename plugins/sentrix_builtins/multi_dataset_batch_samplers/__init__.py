"""Built-in multi dataset batch samplers (one per file), registered under the `sentrix.multi_dataset_batch_samplers` entry-point group."""
