"""loginless: the operator's command line (``loginless``)."""
