"""The local tracker core: the locked tracker and its phases, the throttle and dispatcher, the
current-tracker holder, signals and the self-pipe. Imports only ``_base`` and itself."""
