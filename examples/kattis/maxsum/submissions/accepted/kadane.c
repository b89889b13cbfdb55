#include <stdio.h>
int main(void) {
    int n;
    long long best = 0, current = 0, gain;
    if (scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; i++) {
        if (scanf("%lld", &gain) != 1) return 1;
        current = current + gain > gain ? current + gain : gain;
        if (i == 0 || current > best) best = current;
    }
    printf("%lld\n", best);
    return 0;
}
