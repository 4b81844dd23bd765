// hallkpi: the KPI engine for service halls and their phone lines, header-only C++17.
// Include this one header; see engine.hpp for the API.
#pragma once

#include "hallkpi/engine.hpp"
