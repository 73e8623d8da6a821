#include <stdio.h>

int main(void) {
  puts("hello from the jail");
  return 0;
}
