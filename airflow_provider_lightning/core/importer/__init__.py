"""Lightning's seven import steps (:mod:`.steps`), the per-table import (:mod:`.table`), plans and prechecks."""
