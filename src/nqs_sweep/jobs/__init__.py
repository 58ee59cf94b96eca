"""Runs: the lifecycle every job kind shares (files, resume, failures, the loop), the VMC
and t-VMC jobs, checkpoints and progress."""
