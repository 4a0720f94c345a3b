"""Image encoders: the built-in tiny one (:mod:`.tiny`) and transformers towers (:mod:`.hf`)."""
