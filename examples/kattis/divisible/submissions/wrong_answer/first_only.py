# always the first number: right only when it happens to be divisible by n
input()
print(1)
print(1)
