"""What a notebook opens (the run session), running the notebooks headless, Colab set-up."""
