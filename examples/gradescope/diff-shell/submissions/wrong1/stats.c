/* min and max start at 0, so all-negative or all-positive inputs go wrong */
#include <stdio.h>

int main(void) {
    long n = 0, sum = 0, min = 0, max = 0, x;
    while (scanf("%ld", &x) == 1) {
        if (x < min) min = x;
        if (x > max) max = x;
        sum += x;
        n++;
    }
    printf("count %ld\n", n);
    if (n > 0) {
        printf("sum %ld\nmin %ld\nmax %ld\nmean %.2f\n", sum, min, max, (double)sum / n);
    }
    return 0;
}
