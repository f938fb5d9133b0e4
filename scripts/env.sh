# Shared by the scripts: where builds and caches live (outside the checkout, so fresh clones build warm).
export KGB_CACHE=${KGB_CACHE:-/var/cache/kgb}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$KGB_CACHE/target}
mkdir -p "$KGB_CACHE"
