#include <stdio.h>

int main(void) {
    long lines = 0, words = 0, longest = 0, current = 0;
    int c;
    while ((c = getchar()) != EOF) {
        if (c == '\n') {
            lines++;
        }
        if (c == ' ' || c == '\t' || c == '\n') {
            if (current > 0) {
                words++;
                if (current > longest) {
                    longest = current;
                }
            }
            current = 0;
        } else {
            current++;
        }
    }
    if (current > 0) {
        words++;
        if (current > longest) {
            longest = current;
        }
    }
    printf("lines %ld\nwords %ld\nlongest %ld\n", lines, words, longest);
    return 0;
}
