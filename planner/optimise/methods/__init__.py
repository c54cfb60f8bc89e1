"""Each method of the optimiser (``pods``, ``sites``) written as a list of steps over one budget and one incumbent."""
