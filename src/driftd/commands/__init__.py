"""Sub-commands of the ``driftd`` command line; each module registers its parsers."""
