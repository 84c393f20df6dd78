"""QuperSync's throughput and memory benchmark (``python -m bench``; see bench/README.md).

Claims about speed and memory are only worth what the measurement behind them is worth, so one
command measures QuperSync against two peer tools and against the physical limit of the same
machine, in the same run, on the same data -- and checks after every sync that the target holds
exactly what the source holds, because a fast wrong copy is worthless.
"""
