# Kernels compiled once per instruction-set level (kernels/isa.h), each copy with its level's flags and in its own
# namespace (kernels/level.h), so the library builds with any -march and picks the rows at run time.
#
# A level: its name (as --isa takes it), its compiler flags, and its sources: the vector families (*.vec.cpp,
# xsimd sized by the level's vector) where the level has a wider vector than the one below, the level's own
# microkernels, and its table of rows (kernels/levels/<level>.cpp).

file(GLOB WORKBENCH_VEC_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kernels/*/*.vec.cpp)

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(WORKBENCH_ALL_LEVELS scalar avx2 avx-vnni avx512 avx512-vnni avx512-bf16)
else()
  set(WORKBENCH_ALL_LEVELS scalar)
endif()
set(WORKBENCH_LEVELS "${WORKBENCH_ALL_LEVELS}" CACHE STRING
    "Instruction-set levels to compile kernels for (a tree for AVX2 machines alone: scalar;avx2;avx-vnni)")

set(level_flags_scalar "")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(level_flags_scalar -march=x86-64)
endif()
set(level_flags_avx2 -march=x86-64-v3)
set(level_flags_avx-vnni -march=x86-64-v3 -mavxvnni)
set(level_flags_avx512 -march=x86-64-v4)
set(level_flags_avx512-vnni -march=x86-64-v4 -mavx512vnni)
set(level_flags_avx512-bf16 -march=x86-64-v4 -mavx512vnni -mavx512bf16)

set(k ${CMAKE_SOURCE_DIR}/kernels)
set(level_sources_scalar ${WORKBENCH_VEC_SOURCES})
set(level_sources_avx2 ${WORKBENCH_VEC_SOURCES} ${k}/matmul/qblocks_avx2.cpp ${k}/matmul/kquants_avx2.cpp)
set(level_sources_avx-vnni ${k}/matmul/qblocks_avx2.cpp ${k}/matmul/kquants_avx2.cpp)
set(level_sources_avx512 ${WORKBENCH_VEC_SOURCES} ${k}/matmul/qblocks_avx512.cpp ${k}/matmul/kquants_avx512.cpp)
set(level_sources_avx512-vnni ${k}/matmul/qblocks_avx512.cpp ${k}/matmul/kquants_avx512.cpp)
set(level_sources_avx512-bf16 ${k}/matmul/bf16_dot.cpp)

set(levels_inc "// Written by cmake/levels.cmake: the levels this build compiled kernels for.\n")
foreach(level ${WORKBENCH_LEVELS})
  if(NOT level IN_LIST WORKBENCH_ALL_LEVELS)
    message(FATAL_ERROR "WORKBENCH_LEVELS: unknown level '${level}' (this architecture has: ${WORKBENCH_ALL_LEVELS})")
  endif()
  string(REPLACE "-" "_" id ${level})
  set(target workbench_level_${id})
  add_library(${target} OBJECT ${level_sources_${level}} ${k}/levels/${level}.cpp)
  # The portable code's -march=native must not reach a level's code: the driver turns it into -m flags that a
  # later -march would not take back.
  get_target_property(options ${target} COMPILE_OPTIONS)
  list(REMOVE_ITEM options -march=native)
  set_target_properties(${target} PROPERTIES COMPILE_OPTIONS "${options};${level_flags_${level}}")
  if(WORKBENCH_NATIVE)
    target_compile_options(${target} PRIVATE -mtune=native)
  endif()
  target_compile_definitions(${target} PRIVATE WB_ISA_NS=isa_${id} WB_ISA=${id})
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(${target} PRIVATE TBB::tbb)
  target_sources(workbench PRIVATE $<TARGET_OBJECTS:${target}>)
  string(APPEND levels_inc "WB_LEVEL(isa_${id})\n")
endforeach()
file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/generated/workbench_levels.inc CONTENT "${levels_inc}")
