#include <cstdio>
#include <algorithm>
int main() {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    long long best = -(1LL << 62), current = 0, gain;
    for (int i = 0; i < n; i++) {
        scanf("%lld", &gain);
        current = std::max(gain, current + gain);
        best = std::max(best, current);
    }
    printf("%lld\n", best);
}
