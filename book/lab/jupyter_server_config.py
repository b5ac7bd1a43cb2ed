"""JupyterLab's server settings for the chapters, copied into the venv by ``make install`` and
``make lab`` (``.venv/etc/jupyter/jupyter_server_config.py``; never the user's home).

A chapter is a MyST text notebook: its header names the kernel but, like every text notebook,
carries no ``language_info``. As the kernel starts, JupyterLab writes the kernel's
``language_info`` into a notebook whose own differs, and so marks a chapter modified the moment
it appears. The contents manager below gives a Python text notebook, as it is read, the
``language_info`` this venv's kernel reports (the server runs on the kernel's interpreter);
jupytext writes only the header's keys back (``notebooks/jupytext.toml``), so saving leaves the
chapter as git has it.
"""

import copy

from ipykernel.ipkernel import IPythonKernel
from jupytext.async_contentsmanager import AsyncTextFileContentsManager


class ChapterContentsManager(AsyncTextFileContentsManager):
    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        notebook = model.get("content") if model.get("type") == "notebook" else None
        if notebook and not path.endswith(".ipynb"):
            metadata = notebook["metadata"]
            if metadata.get("kernelspec", {}).get("language") == "python":
                metadata.setdefault("language_info", copy.deepcopy(IPythonKernel.language_info))
        return model


c = get_config()  # noqa: F821 (provided by the traitlets config loader)
c.ServerApp.contents_manager_class = ChapterContentsManager
