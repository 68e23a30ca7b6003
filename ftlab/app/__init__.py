"""The app: the Lab facade every UI event and API endpoint calls (lab), who may see what in shared mode (owners),
presets, redaction of paths in messages, the OpenAI-compatible HTTP API (openai_api) and the Gradio UI
(ftlab/app/ui/). The UI knows no torch: it calls the Lab with plain types and ids.

It may import every layer below it; nothing below imports it."""
