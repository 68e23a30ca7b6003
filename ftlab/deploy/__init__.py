"""Deploy: a run's model in the files local runtimes load (GGUF for llama.cpp and Ollama, ONNX for classifiers),
and what each costs in size, speed and quality, measured on the run's own data."""
