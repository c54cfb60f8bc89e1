"""Upper bounds on a plan's value: the pod-level LP, the site-level LP and the pattern (Dantzig-Wolfe) bound."""
