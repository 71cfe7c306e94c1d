using UNetCluster.Data.Labels;

namespace UNetCluster.Data.Tests.Labels;

/// <summary>
/// Object labels split by shape: two touching round objects whose probability holds no dip between them (one smooth
/// plateau, as a blurred pair gives) come apart at their neck; a convex object, however elongated, and a pair overlapping
/// so far that no neck is left stay whole. Each image also holds three lone discs below, as an image of nuclei holds
/// many single ones (the smallest part is relative to the image's median seed).
/// </summary>
public sealed class ShapeSplitTests
{
    private const int Width = 44;
    private const int Height = 40;

    [Theory]
    [InlineData(true)]    // a border-class model's seeds
    [InlineData(false)]   // a two-class model's mask
    public void Objects_TwoDiscsJoinedByANeckOnAFlatPlateau_AreTwoObjectsCoveringTheForeground(bool borderClass)
    {
        // Discs of radius 6.4 centred 12 apart: the neck between them is 5 px wide, the discs 13.
        var foreground = Discs((14, 12, 6.4), (26, 12, 6.4));

        var labels = Objects(foreground, borderClass, out var count);

        Assert.Equal(2 + 3, count);
        var (left, right) = (labels[(12 * Width) + 11], labels[(12 * Width) + 28]);
        Assert.NotEqual(0, left);
        Assert.NotEqual(0, right);
        Assert.NotEqual(left, right);
        for (var i = 0; i < labels.Length; i++)
        {
            Assert.Equal(foreground[i] != 0, labels[i] != 0);   // the foreground is kept, nothing added
            var (x, y) = (i % Width, i / Width);
            if (foreground[i] != 0 && y < 24 && (x <= 17 || x >= 23))
            {
                Assert.Equal(x <= 17 ? left : right, labels[i]);   // each disc's far side in its own object
            }
        }
    }

    [Fact]
    public void Objects_TwoDiscsJoinedByANeckHighUpTheirDistance_AreTwoObjectsThoughTheirTopsAreSmallAgainstALoneDisc()
    {
        // Discs of radius 7.5 centred 11.5 apart: the seed falls apart only at 0.7 of its largest distance to the edge,
        // where each part holds 24 pixels, under a fifth of a lone disc of the same size (177 px; two of them below),
        // as large nuclei that overlap a little do. A part is judged against what a round seed holds at its level.
        var foreground = new byte[Width * Height];
        for (var i = 0; i < foreground.Length; i++)
        {
            var (x, y) = (i % Width, i / Width);
            bool Disc(double cx, double cy) => ((x - cx) * (x - cx)) + ((y - cy) * (y - cy)) <= 7.5 * 7.5;
            foreground[i] = Disc(14.25, 11) || Disc(25.75, 11) || Disc(9, 30) || Disc(35, 30) ? (byte)1 : (byte)0;
        }

        var labels = Objects(foreground, borderClass: true, out var count);

        Assert.Equal(2 + 2, count);
        Assert.NotEqual(labels[(11 * Width) + 10], labels[(11 * Width) + 30]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Objects_AnElongatedEllipseOnAFlatPlateau_StaysOneObject(bool borderClass)
    {
        var foreground = new byte[Width * Height];
        for (var i = 0; i < foreground.Length; i++)
        {
            var (dx, dy) = (((i % Width) - 21.5) / 18.0, ((i / Width) - 11.5) / 5.0);
            foreground[i] = (dx * dx) + (dy * dy) <= 1 || LoneDisc(i) ? (byte)1 : (byte)0;
        }

        var labels = Objects(foreground, borderClass, out var count);

        Assert.Equal(1 + 3, count);
        Assert.All(labels, (l, i) => Assert.Equal(foreground[i] != 0 && i / Width < 24, l == labels[(12 * Width) + 21]));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Objects_AnOvalWithAHoleInItsMiddle_StaysOneObjectAndTheHoleBackground(bool borderClass)
    {
        // An oval of semi-axes 13 and 8 with a hole of radius 3 at its centre, as a nucleolus the model calls
        // background: the distance to the hole's edge would make two lobes joined by two thin bands.
        var foreground = new byte[Width * Height];
        for (var i = 0; i < foreground.Length; i++)
        {
            var (x, y) = (i % Width, i / Width);
            var (dx, dy) = ((x - 21.5) / 13.0, (y - 12) / 8.0);
            var hole = ((x - 21.5) * (x - 21.5)) + ((y - 12) * (y - 12)) <= 9;
            foreground[i] = ((dx * dx) + (dy * dy) <= 1 && !hole) || LoneDisc(i) ? (byte)1 : (byte)0;
        }

        var labels = Objects(foreground, borderClass, out var count);

        Assert.Equal(1 + 3, count);
        Assert.All(labels, (l, i) => Assert.Equal(foreground[i] != 0 && i / Width < 24, l == labels[(12 * Width) + 12]));
    }

    [Fact]
    public void Objects_TwoDiscsOverlappingWithNoNarrowNeck_StayOneObject()
    {
        // Centres 5 apart at radius 7: the waist is 12 px wide against 14, too shallow to be two objects.
        var foreground = Discs((19, 12, 7), (24, 12, 7));

        var labels = Objects(foreground, borderClass: true, out var count);

        Assert.Equal(1 + 3, count);
        Assert.All(labels, (l, i) => Assert.Equal(foreground[i] != 0 && i / Width < 24, l == labels[(12 * Width) + 21]));
    }

    // The object labels of a model that predicts the foreground at 0.9 everywhere on it: no border, no dip.
    private static int[] Objects(byte[] foreground, bool borderClass, out int count)
    {
        var probability = foreground.Select(f => f != 0 ? 0.9f : 0.05f).ToArray();
        return borderClass
            ? InstanceTargets.ObjectsFromBorderProbabilities([.. foreground.Select(f => f != 0 ? 0.05f : 0.9f)], probability, Width, Height, seedThreshold: 0.5, out count)
            : InstanceTargets.ObjectsFromMask(foreground, probability, Width, Height, threshold: 0.5, out count);
    }

    // Discs of radius 6 at x 8, 22 and 36 on row 32.
    private static bool LoneDisc(int i)
    {
        var (x, y) = (i % Width, i / Width);
        return new[] { 8, 22, 36 }.Any(c => ((x - c) * (x - c)) + ((y - 32) * (y - 32)) <= 36);
    }

    private static byte[] Discs(params (double X, double Y, double Radius)[] discs)
    {
        var mask = new byte[Width * Height];
        for (var i = 0; i < mask.Length; i++)
        {
            var (x, y) = (i % Width, i / Width);
            mask[i] = LoneDisc(i) || discs.Any(d => ((x - d.X) * (x - d.X)) + ((y - d.Y) * (y - d.Y)) <= d.Radius * d.Radius) ? (byte)1 : (byte)0;
        }

        return mask;
    }
}
