# Sourced by the scripts that build: a compiler cache when ccache is installed (install-deps
# installs it), shared by every clone on the machine, since paths are taken relative to the
# clone (CCACHE_BASEDIR) and the build directory is not hashed.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
