"""Data in: fetch the real file, read and write Galaxy10 HDF5, synthesise, import, audit, split."""
