#include <dcos/plugin.hpp>
