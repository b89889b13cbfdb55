// prints positions from 0: off by one
#include <cstdio>
#include <vector>
int main() {
    long long n;
    if (scanf("%lld", &n) != 1) return 1;
    std::vector<long long> first(n, -1);
    first[0] = 0;
    long long total = 0;
    for (long long i = 1; i <= n; i++) {
        long long value;
        scanf("%lld", &value);
        total = (total + value) % n;
        if (first[total] >= 0) {
            printf("%lld\n", i - first[total]);
            for (long long j = first[total]; j < i; j++) printf("%lld ", j);
            printf("\n");
            return 0;
        }
        first[total] = i;
    }
}
