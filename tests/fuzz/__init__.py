"""The fuzz suite's parts: seed models (:mod:`.seeds`), the input generator (:mod:`.mutate`)
and the harness that runs inputs through ``hnn hash`` and judges them (:mod:`.harness`)."""
