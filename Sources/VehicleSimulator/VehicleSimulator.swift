// Placeholder: the simulated vehicle arrives in this target (see the CAN I/O issue, section 5).
