# cmake -DIN=common-passwords.txt -DOUT=common_passwords.c -P embed_passwords.cmake: the list of the most
# common passwords as a C array (server/password.c refuses them), so that no installed file can go missing.
file(STRINGS "${IN}" words)
set(body "/* generated from server/data/common-passwords.txt by embed_passwords.cmake; do not edit */\n")
string(APPEND body "#include <stddef.h>\nconst char *const common_passwords[] = {\n")
set(n 0)
foreach(w IN LISTS words)
  string(REPLACE "\\" "\\\\" w "${w}")
  string(REPLACE "\"" "\\\"" w "${w}")
  string(APPEND body "\t\"${w}\",\n")
  math(EXPR n "${n} + 1")
endforeach()
string(APPEND body "};\nconst size_t common_passwords_n = ${n};\n")
file(WRITE "${OUT}" "${body}")
