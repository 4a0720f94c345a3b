"""Data builders driven by a text LLM: DisCRn sets (DESIGN §4) and QA pairs (DESIGN §5)."""
