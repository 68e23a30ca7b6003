"""ftlab: a fine-tuning lab. Upload data, fine-tune a Hugging Face model, compare base vs tuned, serve it.

Run the app with `python app.py`; the engine runs headless with `python -m ftlab train run.yaml`.
"""

__version__ = "0.1.0"
