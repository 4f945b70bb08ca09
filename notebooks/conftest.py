"""pytest setup for the notebooks, which nbval executes (see pyproject.toml).

The notebooks' kernels inherit this environment variable, so each notebook's
``BookValues.publish()`` fails if a number the chapter quotes moved beyond its
stated tolerance compared with the committed notebook (bioimaging_guide.bookvalues).
"""

import os

from bioimaging_guide.bookvalues import CHECK_ENV

os.environ[CHECK_ENV] = "1"
