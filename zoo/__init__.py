"""The zoo's pretrained entries (installed as the data package `keras_vae.pretrained`): one folder per entry."""
